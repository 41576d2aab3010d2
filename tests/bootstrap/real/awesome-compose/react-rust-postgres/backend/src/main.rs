use actix_web::{get, web, App, HttpResponse, HttpServer};
