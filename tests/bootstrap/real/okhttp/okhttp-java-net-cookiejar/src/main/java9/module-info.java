@SuppressWarnings("module")
module okhttp3.java.net.cookiejar {
