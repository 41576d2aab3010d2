/*
 * Copyright (C) 2012 Google Inc.
 *
