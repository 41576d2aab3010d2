@SuppressWarnings("module")
module okhttp3.sse {
  requires okhttp3;
