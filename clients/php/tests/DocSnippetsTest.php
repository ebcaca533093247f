<?php

declare(strict_types=1);

namespace SsePush\Tests;

use SsePush\Client;
use SsePush\Tests\Support\ServerTestCase;
use SsePush\Tests\Support\Stubs;

/**
 * Runs the ThinkPHP snippets of docs/backends.md and both READMEs, and the Yii 2 ones of
 * docs/backends.md, as pasted: the two .env values point at the test server, the token route
 * signs a token for the logged-in user, and a push from the documented service must arrive on
 * that user's long-poll. ThinkPHP: a stand-in, because ThinkPHP is not installable here (Debian
 * does not package it and no Composer registry is reachable); Yii 2 likewise. The framework
 * classes are the minimal stand-ins of tests/Support/framework-stubs.php. The Laravel snippets run
 * in a real Laravel application instead: test/clients/laravel-snippets.test.ts.
 */
final class DocSnippetsTest extends ServerTestCase
{
    /** @var int */
    private static $counter = 0;

    protected function setUp(): void
    {
        parent::setUp();
        require_once __DIR__ . '/Support/framework-stubs.php';
        Stubs::reset();
    }

    public function testThinkPhpSnippetsOfTheEnglishDocs(): void
    {
        $this->thinkPhp('docs/backends.md', '### ThinkPHP 6 / 8');
    }

    public function testThinkPhpSnippetsOfTheChineseReadme(): void
    {
        $this->thinkPhp('README.zh-CN.md', '## ThinkPHP 集成 (6/8)');
    }

    public function testThinkPhpSnippetsOfTheEnglishReadme(): void
    {
        $this->thinkPhp('README.md', '## ThinkPHP (6/8)');
    }

    public function testYiiSnippetsOfTheEnglishDocs(): void
    {
        $blocks = $this->blocks('docs/backends.md', '### Yii 2');
        $tag = 'Docs' . ++self::$counter;
        $params = $this->evalSnippet(self::pick($blocks['php'], "'ssepush.url'    =>"));
        $container = $this->evalSnippet('return [' . self::pick($blocks['php'], "'singletons'") . '];');
        $uid = "yii-user-$tag";
        \Yii::configure($params, $uid, $container['container']['singletons']);

        [$action, $elsewhere] = explode('// anywhere else:', self::pick($blocks['php'], 'actionPushToken'));
        $this->evalSnippet("namespace $tag; use Yii; class SiteController {\n"
            . "public function asJson(\$data) { return \$data; }\n$action\n}");
        $controller = "$tag\\SiteController";
        $token = (new $controller())->actionPushToken()['token'];
        [, $first] = $this->poll($token);
        $this->evalSnippet($elsewhere, ['userId' => $uid]);
        [, $got] = $this->poll($token, $first['cursor']);
        self::assertSame(['text' => 'Hello'], $got['messages'][0]['data'] ?? null, json_encode($got));
    }

    /** .env, config, service, controller and a push from business code, as the section shows them. */
    private function thinkPhp(string $file, string $heading): void
    {
        $blocks = $this->blocks($file, $heading);
        $tag = 'Docs' . ++self::$counter;
        $this->setEnvFrom($blocks['ini'][0] ?? '');

        Stubs::$config['ssepush'] = $this->evalSnippet(self::pick($blocks['php'], "'url'"));
        $this->evalSnippet(self::rename(self::pick($blocks['php'], 'extends Service'), $tag));
        $this->evalSnippet(self::rename(self::pick($blocks['php'], 'class Push'), $tag));
        $services = $this->evalSnippet(self::rename(self::pick($blocks['php'], 'SsePushService::class'), $tag));
        foreach ($services as $service) {
            (new $service(Stubs::$container))->register();
        }

        $controller = "$tag\\app\\controller\\Push";
        self::assertSame(401, (new $controller())->token(app(Client::class))['code'], 'no login, no token');
        $uid = "tp-user-$tag";
        Stubs::$session['uid'] = $uid;
        $answer = (new $controller())->token(app(Client::class));
        self::assertSame(200, $answer['code']);
        $token = $answer['data']['token'];

        [, $first] = $this->poll($token);
        $this->evalSnippet(self::pick($blocks['php'], '->push('), ['order' => (object) ['user_id' => $uid, 'id' => 5]]);
        [, $got] = $this->poll($token, $first['cursor']);
        self::assertSame('order', $got['messages'][0]['event'] ?? null, json_encode($got));
        self::assertSame(['orderId' => 5, 'status' => 'paid'], $got['messages'][0]['data']);

        // ThinkPHP 5.1: the static helper builds the same client from the same config.
        $this->evalSnippet(self::rename(self::pick($blocks['php'], "class SsePush\n"), $tag));
        $helper = "$tag\\app\\common\\SsePush";
        $result = $helper::client()->push($uid, ['via' => 'helper']);
        [, $more] = $this->poll($token, $got['cursor']);
        self::assertSame(['via' => 'helper'], $more['messages'][0]['data'] ?? null, json_encode($more));
    }

    /**
     * The fenced code blocks of one section, by language.
     *
     * @return array<string, string[]>
     */
    private function blocks(string $file, string $heading): array
    {
        $path = __DIR__ . '/../../../' . $file;
        if (!is_file($path)) {
            self::markTestSkipped("$file is not next to this checkout of the client");
        }
        $text = (string) file_get_contents($path);
        $start = strpos($text, "\n$heading");
        self::assertNotFalse($start, "$file has no section \"$heading\"");
        $level = strlen((string) strstr($heading, ' ', true));
        $rest = substr($text, $start + strlen($heading) + 1);
        if (preg_match('{\n#{1,' . $level . '} }', $rest, $m, PREG_OFFSET_CAPTURE) === 1) {
            $rest = substr($rest, 0, $m[0][1]);
        }
        preg_match_all('{^```(\w+)\n(.*?)^```$}ms', $rest, $found, PREG_SET_ORDER);
        $blocks = [];
        foreach ($found as [, $lang, $code]) {
            $blocks[$lang][] = $code;
        }
        return $blocks;
    }

    /** The .env block must set exactly the two documented values; the test points them at its server. */
    private function setEnvFrom(string $ini): void
    {
        $values = parse_ini_string($ini, false, INI_SCANNER_RAW);
        self::assertIsArray($values);
        self::assertSame(['SSEPUSH_URL', 'SSEPUSH_SECRET'], array_keys($values));
        Stubs::$env = ['SSEPUSH_URL' => $this->url, 'SSEPUSH_SECRET' => $this->secret];
    }

    /** @param string[] $blocks */
    private static function pick(array $blocks, string $needle): string
    {
        $hits = array_values(array_filter($blocks, static function (string $b) use ($needle): bool {
            return strpos($b, $needle) !== false;
        }));
        self::assertCount(1, $hits, "expected one snippet containing $needle");
        return $hits[0];
    }

    /** Moves the snippet's app\ / App\ classes under $tag so both documents can be loaded. */
    private static function rename(string $code, string $tag): string
    {
        $code = str_replace('\\app\\', "\\$tag\\app\\", $code);
        return (string) preg_replace('{^namespace (app|App)\\\\}m', "namespace $tag\\\\\$1\\\\", $code);
    }

    /**
     * Evaluates a snippet the way PHP would load the file.
     *
     * @param array<string, mixed> $vars variables the snippet expects in scope
     * @return mixed what the snippet returns
     */
    private function evalSnippet(string $code, array $vars = [])
    {
        $code = (string) preg_replace('{^<\?php\s*}', '', $code);
        return (static function (array $vars, string $code) {
            extract($vars);
            return eval($code);
        })($vars, $code);
    }
}
