/*
 * Copyright (c) aQute SARL (2000, 2021). All Rights Reserved.
 *
