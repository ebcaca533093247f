<?php

declare(strict_types=1);

namespace SsePush\Tests;

use SsePush\Tests\Support\ClientTestCase;

final class StreamClientTest extends ClientTestCase
{
    protected function transport(): string
    {
        return 'stream';
    }
}
