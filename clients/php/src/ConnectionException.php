<?php

declare(strict_types=1);

namespace SsePush;

/**
 * No answer from the server: connection refused, DNS failure, or the configured timeout
 * passed. Status 0, error code "connection_failed" or "timeout". Safe to retry later.
 */
class ConnectionException extends PushException
{
}
