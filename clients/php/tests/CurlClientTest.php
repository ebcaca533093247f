<?php

declare(strict_types=1);

namespace SsePush\Tests;

use SsePush\Tests\Support\ClientTestCase;

final class CurlClientTest extends ClientTestCase
{
    protected function setUp(): void
    {
        if (!extension_loaded('curl')) {
            self::markTestSkipped('the curl extension is not loaded (php-curl); StreamClientTest covers streams');
        }
        parent::setUp();
    }

    protected function transport(): string
    {
        return 'curl';
    }
}
