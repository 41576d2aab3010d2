@SuppressWarnings("module")
module okhttp3.modules {
  requires okhttp3;
