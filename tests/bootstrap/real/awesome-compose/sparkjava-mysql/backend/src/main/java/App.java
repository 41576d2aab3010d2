import com.google.gson.Gson;
