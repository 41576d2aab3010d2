// Copyright 2013-2023 The Cobra Authors
//
