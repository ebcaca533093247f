<?php

declare(strict_types=1);

namespace SsePush;

/** A webhook request that must not be trusted; the message says why. Answer it with 400. */
class WebhookException extends \RuntimeException
{
}
