/**
 * Created by Syed Afzal
 */
require("./config/config");

