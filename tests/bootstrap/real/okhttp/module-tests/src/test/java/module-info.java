@SuppressWarnings("module")
module okhttp3.modules.test {
  requires okhttp3;
