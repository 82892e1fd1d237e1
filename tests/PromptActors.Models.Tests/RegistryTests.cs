using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using PromptActors.Models.Tests.Support;

namespace PromptActors.Models.Tests;

public sealed class RegistryTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    private static ModelConfigurationException Invalid(params (string Key, string? Value)[] values) =>
        Assert.Throws<ModelConfigurationException>(() => ModelRegistryFactory.FromConfiguration(Config(values),
            environment: _ => null));

    [Fact]
    public async Task No_configuration_gives_the_built_in_local_model_as_default()
    {
        var registry = ModelRegistryFactory.FromConfiguration(Config());

        Assert.Equal(["local"], registry.ModelIds);
        Assert.Equal("local", registry.DefaultModelId);
        Assert.True(registry.TryGet("local", out var local));
        Assert.Equal(ModelProviders.Local, local.Provider);
        Assert.Equal(ModelPricing.Free, local.Pricing);
        var reply = await local.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "echo these words")]);
        Assert.Equal("echo these words", reply.Text);
    }

    [Fact]
    public async Task Configuration_binds_every_setting()
    {
        var config = Config(
            ("PromptActors:Models:gpt:Provider", "openai"),
            ("PromptActors:Models:gpt:Endpoint", "http://127.0.0.1:11434/v1"),
            ("PromptActors:Models:gpt:Model", "llama3.2"),
            ("PromptActors:Models:gpt:Headers:X-Title", "PromptActors"),
            ("PromptActors:Models:gpt:InputPerMillion", "0.15"),
            ("PromptActors:Models:gpt:OutputPerMillion", "0.6"),
            ("PromptActors:Models:gpt:CachedInputPerMillion", "0.075"),
            ("PromptActors:Models:gpt:IdleTimeout", "30s"),
            ("PromptActors:Models:gpt:MaxRetries", "2"),
            ("PromptActors:Models:gpt:RetryDelay", "00:00:00.250"),
            ("PromptActors:Models:gpt:Default", "true"),
            ("PromptActors:Models:local:WordDelay", "0ms"),
            ("PromptActors:Models:local:ReplyWords", "3"));

        var options = ModelRegistryFactory.ReadOptions(config.GetSection(ModelOptions.SectionPath));
        var gpt = options["gpt"];
        Assert.Equal("llama3.2", gpt.Model);
        Assert.Equal("PromptActors", gpt.Headers["x-title"]);
        Assert.Equal(0.075m, gpt.CachedInputPerMillion);
        Assert.Equal(TimeSpan.FromSeconds(30), gpt.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), gpt.RetryDelay);
        Assert.Equal(2, gpt.MaxRetries);

        var registry = ModelRegistryFactory.FromConfiguration(config);
        Assert.Equal("gpt", registry.DefaultModelId);
        Assert.Equal(["gpt", "local"], registry.ModelIds.Order());
        Assert.True(registry.TryGet("gpt", out var entry));
        Assert.Equal(ModelProviders.OpenAI, entry.Provider);
        Assert.Equal(new ModelPricing(0.15m, 0.6m, 0.075m), entry.Pricing);
        Assert.NotNull(entry.Client.GetService<IdleTimeoutChatClient>());
        Assert.NotNull(entry.Client.GetService<ResilientChatClient>());
        Assert.Equal(TimeSpan.FromSeconds(30), entry.Client.GetService<IdleTimeoutChatClient>()!.Timeout);
        Assert.Equal("llama3.2", entry.Client.GetService<ChatClientMetadata>()?.DefaultModelId);

        Assert.True(registry.TryGet("local", out var local));
        var reply = await local.Client.GetResponseAsync([new ChatMessage(ChatRole.User, "one two")]);
        Assert.Equal("one two one", reply.Text);
    }

    [Fact]
    public void The_local_model_can_be_turned_off_when_another_is_the_default()
    {
        var registry = ModelRegistryFactory.FromConfiguration(Config(
            ("PromptActors:Models:local:Enabled", "false"),
            ("PromptActors:Models:ollama:Endpoint", "http://localhost:11434/v1")));

        Assert.Equal(["ollama"], registry.ModelIds);
        Assert.Equal("ollama", registry.DefaultModelId);
    }

    [Fact]
    public void A_bad_endpoint_names_its_key()
    {
        var error = Invalid(("PromptActors:Models:gpt:Endpoint", "not a url"));
        Assert.Equal(["PromptActors:Models:gpt:Endpoint must be an absolute http(s) URL"], error.Errors);

        error = Invalid(("PromptActors:Models:gpt:Provider", "openai"), ("PromptActors:Models:gpt:Endpoint", "ftp://example.com/v1"));
        Assert.Equal(["PromptActors:Models:gpt:Endpoint must be an absolute http(s) URL"], error.Errors);
        Assert.Contains("PromptActors:Models:gpt:Endpoint must be an absolute http(s) URL", error.Message);
    }

    [Fact]
    public void An_unknown_provider_names_its_key()
    {
        var error = Invalid(("PromptActors:Models:claude:Provider", "anthropic"));
        Assert.Equal(["PromptActors:Models:claude:Provider 'anthropic' is unknown; use 'local' or 'openai'"], error.Errors);

        error = Invalid(("PromptActors:Models:gpt:Model", "gpt-4o"));
        Assert.Equal(["PromptActors:Models:gpt:Provider is required ('local' or 'openai')"], error.Errors);
    }

    [Fact]
    public void Every_problem_is_reported_at_once_each_naming_its_key()
    {
        var error = Invalid(
            ("PromptActors:Models:a:Endpoint", "http://127.0.0.1:1/v1"),
            ("PromptActors:Models:a:InputPerMillion", "-1"),
            ("PromptActors:Models:a:MaxRetries", "99"),
            ("PromptActors:Models:a:WordDelay", "1s"),
            ("PromptActors:Models:a:Headers:Authorization", "Bearer x"),
            ("PromptActors:Models:local:Endpoint", "http://127.0.0.1:1/v1"),
            ("PromptActors:Models:local:Provider", "local"),
            ("PromptActors:Models:local:ReplyWords", "0"));

        Assert.Equal(
        [
            "PromptActors:Models:a:InputPerMillion must be zero or more (got -1)",
            "PromptActors:Models:a:MaxRetries must be between 0 and 10 (got 99)",
            "PromptActors:Models:a:WordDelay applies only to provider 'local'",
            "PromptActors:Models:a:Headers:Authorization is not allowed; the key comes from the variable named in PromptActors:Models:a:ApiKeyEnv",
            "PromptActors:Models:local:Endpoint applies only to provider 'openai'",
            "PromptActors:Models:local:ReplyWords must be at least 1 (got 0)",
        ], error.Errors);
    }

    [Fact]
    public void Values_that_do_not_parse_and_unknown_settings_name_their_keys()
    {
        var error = Invalid(
            ("PromptActors:Models:gpt:Endpoint", "http://127.0.0.1:1/v1"),
            ("PromptActors:Models:gpt:IdleTimeout", "soon"),
            ("PromptActors:Models:gpt:OutputPerMillion", "ten"),
            ("PromptActors:Models:gpt:Endpiont", "http://typo"));

        Assert.Equal(3, error.Errors.Count);
        Assert.Contains("PromptActors:Models:gpt:IdleTimeout must be a duration like 00:00:30, 30s or 500ms (got 'soon')", error.Errors);
        Assert.Contains("PromptActors:Models:gpt:OutputPerMillion must be a number (got 'ten')", error.Errors);
        Assert.Contains(error.Errors, e => e.StartsWith("PromptActors:Models:gpt:Endpiont is not a known model setting (known: Provider, Endpoint,"));
    }

    [Fact]
    public void A_key_written_into_configuration_is_refused_without_echoing_it()
    {
        const string secret = "sk-live-0123456789abcdef";
        var error = Invalid(
            ("PromptActors:Models:gpt:Endpoint", "http://127.0.0.1:1/v1"),
            ("PromptActors:Models:gpt:ApiKey", secret));

        Assert.Equal(["PromptActors:Models:gpt:ApiKey is not allowed: keys never go in configuration; put the key in an " +
                      "environment variable and name that variable in PromptActors:Models:gpt:ApiKeyEnv"], error.Errors);
        Assert.DoesNotContain(secret, error.ToString());
    }

    [Fact]
    public void A_missing_key_variable_is_named_but_no_key_value_is_shown()
    {
        var present = "PA_TEST_PRESENT_" + Guid.NewGuid().ToString("N");
        var missing = "PA_TEST_MISSING_" + Guid.NewGuid().ToString("N");
        const string secret = "sk-present-value-must-not-leak";
        Environment.SetEnvironmentVariable(present, secret);
        try
        {
            var error = Assert.Throws<ModelConfigurationException>(() => ModelRegistryFactory.Create(
                new Dictionary<string, ModelOptions>
                {
                    ["ok"] = new() { Provider = "openai", ApiKeyEnv = present },
                    ["gpt"] = new() { Provider = "openai", ApiKeyEnv = missing },
                }));

            Assert.Equal([$"PromptActors:Models:gpt:ApiKeyEnv names the environment variable '{missing}', which is not set"], error.Errors);
            Assert.DoesNotContain(secret, error.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable(present, null);
        }
    }

    [Fact]
    public void The_public_OpenAI_endpoint_needs_a_key()
    {
        var error = Invalid(("PromptActors:Models:gpt:Provider", "openai"));
        Assert.Equal(["PromptActors:Models:gpt:ApiKeyEnv is required for the public OpenAI endpoint (set Endpoint for a server that needs no key)"],
            error.Errors);
    }

    [Fact]
    public void Credentials_in_the_endpoint_are_refused_without_echoing_them()
    {
        var error = Invalid(("PromptActors:Models:gpt:Endpoint", "https://user:hunter2@example.com/v1"));
        Assert.Equal(["PromptActors:Models:gpt:Endpoint must not carry credentials; name the key's environment variable in PromptActors:Models:gpt:ApiKeyEnv"],
            error.Errors);
        Assert.DoesNotContain("hunter2", error.ToString());
    }

    [Fact]
    public void The_default_model_must_be_unambiguous()
    {
        var error = Invalid(
            ("PromptActors:Models:a:Endpoint", "http://127.0.0.1:1/v1"), ("PromptActors:Models:a:Default", "true"),
            ("PromptActors:Models:b:Endpoint", "http://127.0.0.1:2/v1"), ("PromptActors:Models:b:Default", "true"));
        Assert.Equal(["PromptActors:Models: only one model may set Default=true (found a, b)"], error.Errors);

        error = Invalid(
            ("PromptActors:Models:local:Enabled", "false"),
            ("PromptActors:Models:a:Endpoint", "http://127.0.0.1:1/v1"),
            ("PromptActors:Models:b:Endpoint", "http://127.0.0.1:2/v1"));
        Assert.Equal(["PromptActors:Models: the local model is off, so set Default=true on one of: a, b"], error.Errors);
    }

    [Fact]
    public async Task Default_headers_and_the_bearer_key_reach_the_server_and_the_key_never_reaches_logs_or_errors()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var keyVariable = "PA_TEST_KEY_" + Guid.NewGuid().ToString("N");
        var key = "sk-test-" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(keyVariable, key);
        try
        {
            var logs = new CapturingLoggerFactory();
            var gpt = TestModels.Gpt(server, o =>
            {
                o.ApiKeyEnv = keyVariable;
                o.Headers["X-Title"] = "PromptActors";
                o.Headers["OpenAI-Organization"] = "org-test";
                o.MaxRetries = 1;
            }, logs);
            // A provider that echoes the key in its error body, as some do.
            server.Script(Reply.Text("hi"), Reply.Fail(401, message: $"Incorrect API key provided: {key}."),
                Reply.Fail(500, message: $"upstream rejected {key}"));

            var ok = await TestModels.CollectAsync(gpt.Client);
            var unauthorized = await TestModels.CollectAsync(gpt.Client);
            var failed = await TestModels.CollectAsync(gpt.Client);

            Assert.Null(ok.Error);
            Assert.All(server.Requests, r =>
            {
                Assert.Equal($"Bearer {key}", r.Header("Authorization"));
                Assert.Equal("PromptActors", r.Header("X-Title"));
                Assert.Equal("org-test", r.Header("OpenAI-Organization"));
            });
            Assert.Equal("model 'gpt': provider returned HTTP 401 (Unauthorized) (not retried): Incorrect API key provided: [redacted].",
                unauthorized.Error!.Message);
            Assert.StartsWith("model 'gpt': provider returned HTTP 500 (Internal Server Error) after 2 attempts: upstream rejected [redacted]",
                failed.Error!.Message);

            Assert.Contains(logs.Records, r => r.Contains($"key from environment variable {keyVariable}"));
            Assert.Contains(logs.Records, r => r.Contains("Model gpt: completed"));
            Assert.Contains(logs.Records, r => r.Contains("Model gpt: failed") && r.Contains("HTTP 401"));
            Assert.Contains(logs.Records, r => r.Contains("Model gpt: attempt 1 failed (HTTP 500"));
            Assert.DoesNotContain(key, logs.AllText);
            Assert.DoesNotContain(key, unauthorized.Error.Message);
            Assert.DoesNotContain(key, failed.Error.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(keyVariable, null);
        }
    }

    [Fact]
    public async Task A_server_without_a_key_gets_no_authorization_header()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var gpt = TestModels.Gpt(server);

        var result = await TestModels.CollectAsync(gpt.Client);

        Assert.Null(result.Error);
        Assert.Null(Assert.Single(server.Requests).Header("Authorization"));
    }

    [Fact]
    public void The_key_can_come_from_a_supplied_environment_reader()
    {
        var registry = ModelRegistryFactory.Create(
            new Dictionary<string, ModelOptions> { ["gpt"] = new() { Provider = "openai", ApiKeyEnv = "OPENAI_API_KEY" } },
            environment: name => name == "OPENAI_API_KEY" ? "sk-from-reader" : null);

        Assert.True(registry.TryGet("gpt", out var gpt));
        Assert.Equal(new Uri("https://api.openai.com/v1"), gpt.Client.GetService<ChatClientMetadata>()?.ProviderUri);
    }
}
