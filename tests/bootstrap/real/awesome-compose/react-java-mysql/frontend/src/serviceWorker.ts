// This optional code is used to register a service worker.
