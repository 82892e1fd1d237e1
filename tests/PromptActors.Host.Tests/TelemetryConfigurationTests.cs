using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace PromptActors.Host.Tests;

/// <summary>PromptActors:Telemetry is checked when the host is built, naming the key.</summary>
public sealed class TelemetryConfigurationTests
{
    [Theory]
    [InlineData("PromptActors:Telemetry:OtlpEndpoint", "ftp://collector:4317", "PromptActors:Telemetry:OtlpEndpoint must be an absolute http(s) URL")]
    [InlineData("PromptActors:Telemetry:OtlpEndpoint", "not a url", "PromptActors:Telemetry:OtlpEndpoint must be an absolute http(s) URL")]
    [InlineData("PromptActors:Telemetry:ServiceName", " ", "PromptActors:Telemetry:ServiceName must not be empty")]
    public void A_bad_telemetry_setting_stops_the_host_naming_the_key(string key, string value, string expected)
    {
        var dir = Path.Combine(Path.GetTempPath(), "promptactors-telemetry-config-" + Guid.NewGuid().ToString("N"));
        var error = Assert.Throws<OptionsValidationException>(() => HostApp.Build(["--urls", "http://127.0.0.1:0"],
            b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["PromptActors:Storage:ConnectionString"] = $"Data Source={Path.Combine(dir, "t.db")}",
                ["PromptActors:Auth:Enabled"] = "false",
                [key] = value,
            })));

        Assert.Contains(expected, error.Message);
    }
}
