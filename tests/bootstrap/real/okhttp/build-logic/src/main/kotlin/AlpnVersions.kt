/*
 * Copyright (C) 2021 Square, Inc.
 *
