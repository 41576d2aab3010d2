const reportWebVitals = onPerfEntry => {
