/*!
 * express
 * Copyright(c) 2009-2013 TJ Holowaychuk
