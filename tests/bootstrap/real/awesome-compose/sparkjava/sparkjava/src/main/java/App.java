import static spark.Spark.*;

public class App {
