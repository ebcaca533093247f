<?php

namespace App\Providers;

use Illuminate\Foundation\Support\Providers\RouteServiceProvider as ServiceProvider;
use Illuminate\Support\Facades\Route;

class RouteServiceProvider extends ServiceProvider
{
    public function boot()
    {
        $this->routes(function () {
            if (is_file(base_path('routes/api.php'))) {
                Route::prefix('api')->middleware('api')->group(base_path('routes/api.php'));
            }
            if (is_file(base_path('routes/web.php'))) {
                Route::middleware('web')->group(base_path('routes/web.php'));
            }
        });
    }
}
