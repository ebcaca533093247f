<?php

/**
 * The smallest stand-ins for ThinkPHP and Yii 2 that the documented snippets touch, so
 * DocSnippetsTest can run those snippets as a developer would paste them. ThinkPHP: a stand-in,
 * because ThinkPHP is not installable here (Debian does not package it and no Composer registry
 * is reachable from the test machines); Yii 2 likewise. Laravel is not stood in for: its snippets
 * run in a real Laravel application (test/clients/laravel-snippets.test.ts). Everything is backed
 * by Stubs::$container / Stubs::$config / Stubs::$env / Stubs::$session.
 */

declare(strict_types=1);

namespace SsePush\Tests\Support {

    final class Container
    {
        /** @var array<string, \Closure> */
        private $bindings = [];

        /** @var array<string, object> */
        private $instances = [];

        public function bind(string $name, \Closure $make): void
        {
            $this->bindings[$name] = $make;
            unset($this->instances[$name]);
        }

        public function singleton(string $name, \Closure $make): void
        {
            $this->bind($name, $make);
        }

        public function make(string $name): object
        {
            if (!isset($this->instances[$name])) {
                if (!isset($this->bindings[$name])) {
                    throw new \LogicException("nothing bound for $name");
                }
                $this->instances[$name] = ($this->bindings[$name])();
            }
            return $this->instances[$name];
        }
    }

    final class Stubs
    {
        /** @var Container */
        public static $container;

        /** @var array<string, array<string, mixed>> config files by name */
        public static $config = [];

        /** @var array<string, string> */
        public static $env = [];

        /** @var array<string, mixed> */
        public static $session = [];

        public static function reset(): void
        {
            self::$container = new Container();
            self::$config = [];
            self::$env = [];
            self::$session = [];
        }
    }
}

namespace think {

    use SsePush\Tests\Support\Container;

    abstract class Service
    {
        /** @var Container */
        protected $app;

        public function __construct(Container $app)
        {
            $this->app = $app;
        }
    }
}

namespace {

    use SsePush\Tests\Support\Stubs;

    /** Yii 2's service locator, as far as the snippets use it. */
    final class Yii
    {
        /** @var object with "params" and "user" */
        public static $app;

        /** @var object with get() */
        public static $container;

        /** @param array<string, \Closure> $singletons the "container" => "singletons" config */
        public static function configure(array $params, string $userId, array $singletons): void
        {
            self::$app = (object) ['params' => $params, 'user' => (object) ['id' => $userId]];
            $container = new \SsePush\Tests\Support\Container();
            foreach ($singletons as $class => $make) {
                $container->singleton($class, $make);
            }
            self::$container = new class ($container) {
                /** @var \SsePush\Tests\Support\Container */
                private $c;

                public function __construct(\SsePush\Tests\Support\Container $c)
                {
                    $this->c = $c;
                }

                public function get(string $class): object
                {
                    return $this->c->make($class);
                }
            };
        }
    }

    function env(string $key, $default = null)
    {
        return Stubs::$env[$key] ?? $default;
    }

    function config(string $key)
    {
        [$file, $item] = explode('.', $key, 2);
        return Stubs::$config[$file][$item] ?? null;
    }

    function app(string $name)
    {
        return Stubs::$container->make($name);
    }

    function session(string $key)
    {
        return Stubs::$session[$key] ?? null;
    }

    /** ThinkPHP's json(): here just the data and the status. */
    function json($data, int $code = 200): array
    {
        return ['code' => $code, 'data' => $data];
    }
}
