@SuppressWarnings("module")
module okhttp3.mockwebserver {
  requires okhttp3;
