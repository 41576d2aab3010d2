@SuppressWarnings("module")
module okhttp3.dnsoverhttps {
  requires okhttp3;
