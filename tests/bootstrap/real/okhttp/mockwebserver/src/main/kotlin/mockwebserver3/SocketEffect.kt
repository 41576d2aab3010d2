/*
 * Copyright (C) 2025 Square, Inc.
 *
