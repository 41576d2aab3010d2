@SuppressWarnings("module")
module mockwebserver3.junit5 {
  requires okhttp3;
