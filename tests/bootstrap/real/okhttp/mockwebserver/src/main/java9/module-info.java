@SuppressWarnings("module")
module mockwebserver3 {
  requires okhttp3;
