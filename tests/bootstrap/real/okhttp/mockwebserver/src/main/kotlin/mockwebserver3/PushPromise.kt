/*
 * Copyright (C) 2014 Square, Inc.
 *
