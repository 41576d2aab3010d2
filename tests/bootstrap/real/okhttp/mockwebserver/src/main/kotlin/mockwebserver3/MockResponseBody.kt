/*
 * Copyright (c) 2022 Block, Inc.
 *
