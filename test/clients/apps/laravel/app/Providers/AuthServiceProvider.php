<?php

namespace App\Providers;

use Illuminate\Auth\GenericUser;
use Illuminate\Http\Request;
use Illuminate\Support\Facades\Auth;
use Illuminate\Support\ServiceProvider;

/** How this test application knows the user: `X-Test-User` (id) and `X-Test-Team` (team_id). */
class AuthServiceProvider extends ServiceProvider
{
    public function boot(): void
    {
        Auth::viaRequest('header', static function (Request $request) {
            $id = $request->header('X-Test-User');
            return $id === null ? null : new GenericUser([
                'id' => $id,
                'team_id' => (int) $request->header('X-Test-Team', '0'),
            ]);
        });
    }
}
