<?php

// Stands in for the autoloader Composer would generate (no Composer registry is reachable from
// the test machines): the framework from Debian's php-laravel-framework package, the ssepush PHP
// SDK, and the application's own App\ classes (PSR-4, as composer.json maps them).

require_once 'Illuminate/autoload.php'; // /usr/share/php, on PHP's default include_path in Debian
require_once getenv('SSEPUSH_PHP_SDK') . '/autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'App\\', 4) === 0) {
        $file = dirname(__DIR__) . '/app/' . str_replace('\\', '/', substr($class, 4)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
