/*
 * Copyright (C) 2024 Google Inc.
 *
