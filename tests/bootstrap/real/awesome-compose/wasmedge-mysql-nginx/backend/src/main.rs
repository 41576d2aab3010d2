use hyper::service::{make_service_fn, service_fn};
