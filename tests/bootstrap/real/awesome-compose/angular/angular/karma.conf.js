// Karma configuration file, see link for more information
