@SuppressWarnings("module")
module mockwebserver3.junit4 {
  requires okhttp3;
