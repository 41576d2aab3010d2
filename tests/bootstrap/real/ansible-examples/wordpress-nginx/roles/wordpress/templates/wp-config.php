<?php
/**
 * The base configurations of the WordPress.
 *
