@SuppressWarnings("module")
module okhttp3.brotli {
  requires okhttp3;
