<?php

namespace App\Events;

use Illuminate\Foundation\Events\Dispatchable;

/** The application's own event that the docs' listener answers (the docs assume it exists). */
class OrderPaid
{
    use Dispatchable;

    public function __construct(public object $order)
    {
    }
}
