@SuppressWarnings("module")
module okhttp3.coroutines {
  requires okhttp3;
