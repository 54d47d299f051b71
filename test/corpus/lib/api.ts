import http from 'k6/http';

export enum Method { Get = 'GET', Post = 'POST' }

export interface Echo<T = unknown> {
  method: string;
  path: string;
  query: string;
  body: string;
  header: Record<string, string>;
  parsed?: T;
}

export class ApiClient {
  private calls = 0;
  constructor(private readonly base: string, private readonly token?: string) {}

  get made(): number { return this.calls; }

  async send<T>(method: Method, path: string, payload?: T): Promise<Echo<T>> {
    this.calls++;
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const res = await http.asyncRequest(method, `${this.base}/echo${path}`,
      payload === undefined ? null : JSON.stringify(payload), { headers, tags: { name: path.split('&')[0] } });
    if (res.status !== 200) throw new Error(`${method} ${path}: status ${res.status}`);
    const echo = res.json() as unknown as Echo<T>;
    echo.parsed = echo.body ? (JSON.parse(echo.body) as T) : undefined;
    return echo;
  }
}
