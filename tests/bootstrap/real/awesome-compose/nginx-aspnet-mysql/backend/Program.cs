using MySqlConnector;

var builder = WebApplication.CreateBuilder(args);

