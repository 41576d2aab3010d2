/*
 * Copyright (C) 2018 Google Inc.
 *
