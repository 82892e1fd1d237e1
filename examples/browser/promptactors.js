// A dependency-free browser client for the PromptActors HTTP API.
//   const pa = new PromptActors("https://engine.example.com", apiKey);
//   const instance = await pa.start({ promptId: "chat-assistant" });
//   await pa.send(instance.instanceId, "Hello");
//   for await (const e of pa.stream(instance.instanceId)) { ... e.event is "chunk" | "completed" | "error" ... }
// stream() reads Server-Sent Events with fetch, so it can send the Authorization header, and reconnects after a dropped
// connection with Last-Event-ID (the engine resumes after the last chunk it sent). streamWithEventSource() uses a
// one-minute stream token instead, for code that wants the browser's own EventSource.
export class PromptActors {
  constructor(baseUrl, apiKey) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.apiKey = apiKey;
  }

  async call(method, path, body) {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: { "Authorization": `Bearer ${this.apiKey}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) : null;
    if (!response.ok) throw Object.assign(new Error(json?.detail ?? response.statusText), { status: response.status, code: json?.code });
    return json;
  }

  start(request) { return this.call("POST", "/v1/instances", request); }
  send(instanceId, userInput) { return this.call("POST", `/v1/instances/${encodeURIComponent(instanceId)}/messages`, userInput === undefined ? {} : { userInput }); }
  instance(instanceId) { return this.call("GET", `/v1/instances/${encodeURIComponent(instanceId)}`); }

  // Yields {event, id, data} until the task's completed or error event; reconnects (up to `retries` times) when the
  // connection drops, resuming after the last event id it saw.
  async *stream(instanceId, { retries = 5 } = {}) {
    let lastEventId = null;
    for (let attempt = 0; ; attempt++) {
      const headers = { "Authorization": `Bearer ${this.apiKey}`, "Accept": "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      try {
        const response = await fetch(`${this.baseUrl}/v1/instances/${encodeURIComponent(instanceId)}/stream`, { headers });
        if (!response.ok) throw Object.assign(new Error(`stream refused: ${response.status}`), { status: response.status, final: true });
        for await (const e of readEvents(response.body)) {
          if (e.id) lastEventId = e.id;
          yield e;
          if (e.event === "completed" || e.event === "error") return;
        }
      } catch (error) {
        if (error.final || attempt >= retries) throw error;
      }
      await new Promise(resolve => setTimeout(resolve, 250 * (attempt + 1)));
    }
  }

  // The browser's EventSource with a stream token (it cannot send headers). Calls onEvent({event, id, data}).
  async streamWithEventSource(instanceId, onEvent) {
    const { token } = await this.call("POST", `/v1/instances/${encodeURIComponent(instanceId)}/stream-tokens`, {});
    const source = new EventSource(`${this.baseUrl}/v1/instances/${encodeURIComponent(instanceId)}/stream?access_token=${encodeURIComponent(token)}`);
    return new Promise((resolve, reject) => {
      for (const name of ["chunk", "completed", "error"]) {
        source.addEventListener(name, message => {
          if (name === "error" && !message.data) { source.close(); reject(new Error("the stream failed")); return; }
          const e = { event: name, id: message.lastEventId, data: JSON.parse(message.data) };
          onEvent(e);
          if (name !== "chunk") { source.close(); resolve(e); }
        });
      }
    });
  }
}

// Parses an SSE byte stream into {event, id, data} (data parsed as JSON).
async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e = { event: "message", id: null, data: "" };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") e.event = text;
        else if (field === "id") e.id = text;
        else if (field === "data") e.data += (e.data ? "\n" : "") + text;
      }
      if (e.data) { e.data = JSON.parse(e.data); yield e; }
    }
  }
}
