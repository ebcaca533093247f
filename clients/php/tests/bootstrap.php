<?php

declare(strict_types=1);

require __DIR__ . '/../autoload.php';
require __DIR__ . '/Support/Sse.php';
require __DIR__ . '/Support/ServerTestCase.php';
require __DIR__ . '/Support/ClientTestCase.php';
