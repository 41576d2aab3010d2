@SuppressWarnings("module")
module okhttp3.logging {
  requires okhttp3;
