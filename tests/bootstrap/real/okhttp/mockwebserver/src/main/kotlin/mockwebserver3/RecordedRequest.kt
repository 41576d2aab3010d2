/*
 * Copyright (C) 2011 Google Inc.
 *
