<?php

/**
 * PSR-4 autoloader for projects that do not use Composer:
 *     require '/path/to/clients/php/autoload.php';
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'SsePush\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
