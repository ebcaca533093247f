<?php

// One guard, `header` (App\Providers\AuthServiceProvider): the test names the logged-in user in a
// request header, where a real application would use its session or API tokens.

return [
    'defaults' => ['guard' => 'web'],
    'guards' => [
        'web' => ['driver' => 'header'],
    ],
];
