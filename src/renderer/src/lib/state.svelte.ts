// Application state shared by the screens: the API, the open project, classes, engine info,
// running jobs and messages. Components read it and call its actions; all persistence is the API's.
import type { ClassInfo, EngineInfo, ImageStatus, PeakLabelApi, ProjectInfo, ProjectSummary } from '../../../common/api';
import { toErrorInfo, type ErrorInfo } from '../../../common/errors';
import type { ProgressEvent } from '../../../common/progress';
import { PALETTE } from '../canvas/color';

export interface Notice {
  id: number;
  kind: 'error' | 'warning' | 'info';
  text: string;
  file?: string;
}

export const STATUSES: ImageStatus[] = ['new', 'suggested', 'in_review', 'done', 'error', 'missing'];
export const STATUS_LABEL: Record<ImageStatus, string> = {
  new: 'New', suggested: 'Suggested', in_review: 'In review', done: 'Done', error: 'Error', missing: 'Missing',
};

export class AppState {
  project = $state<ProjectInfo | null>(null);
  recent = $state<string[]>([]);
  classes = $state<ClassInfo[]>([]);
  summary = $state<ProjectSummary | null>(null);
  engine = $state<EngineInfo | null>(null);
  jobs = $state<Record<string, ProgressEvent>>({});
  notices = $state<Notice[]>([]);
  /** The image open in the editor, null on the project screen. */
  editing = $state<number | null>(null);
  /** Bumped whenever the image list may have changed (import, status change, undo). */
  imagesVersion = $state(0);
  /** Position of the open image in the filtered grid, for next/previous. */
  editingIndex = $state(0);
  filterStatus = $state<ImageStatus | null>(null);
  filterTag = $state('');
  activeClassId = $state<number | null>(null);
  dialog = $state<null | 'export' | 'import' | 'settings' | 'help'>(null);
  /** Whether Browse… buttons can open OS dialogs (desktop app); false in the browser. */
  nativeDialogs = $state(false);
  private noticeId = 1;

  constructor(readonly api: PeakLabelApi) {
    api.onProgress((e) => {
      this.jobs = { ...this.jobs, [e.jobId]: e };
      if (e.state !== 'running') {
        setTimeout(() => {
          const { [e.jobId]: _, ...rest } = this.jobs;
          this.jobs = rest;
        }, 2500);
      }
    });
  }

  /** The running job of this kind (ProgressEvent.kind), if any. */
  runningJob(kind: string): ProgressEvent | undefined {
    return Object.values(this.jobs).find((j) => j.kind === kind && j.state === 'running');
  }

  /** Run an API call; a failure becomes a readable message in the window and `undefined`. */
  async run<T>(what: Promise<T>): Promise<T | undefined> {
    try {
      return await what;
    } catch (err) {
      this.error(err);
      return undefined;
    }
  }

  error(err: unknown): void {
    const info: ErrorInfo = toErrorInfo(err);
    this.notices = [...this.notices, { id: this.noticeId++, kind: 'error', text: info.message, file: info.file }];
  }

  info(text: string): void {
    const id = this.noticeId++;
    this.notices = [...this.notices, { id, kind: 'info', text }];
    setTimeout(() => this.dismiss(id), 6000);
  }

  /** A problem the user should know about that stopped nothing; it stays until dismissed, shown once. */
  warn(info: ErrorInfo): void {
    if (this.warned.has(info.message)) return;
    this.warned.add(info.message);
    this.notices = [...this.notices, { id: this.noticeId++, kind: 'warning', text: info.message, file: info.file }];
  }

  private warned = new Set<string>();

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  async init(): Promise<void> {
    this.recent = (await this.run(this.api.recentProjects())) ?? [];
    this.nativeDialogs = (await this.run(this.api.appInfo()))?.nativeDialogs ?? false;
    const current = await this.run(this.api.currentProject());
    if (current) await this.loaded(current);
    void this.refreshEngine();
  }

  async refreshEngine(): Promise<void> {
    try {
      this.engine = await this.api.engineInfo();
      if (this.engine.settingsWarning) this.warn(this.engine.settingsWarning);
    } catch (err) {
      const info = toErrorInfo(err);
      this.engine = { available: false, provider: null, fallbackReasons: [], modelId: null, modelClasses: [], methods: [], segmenter: null, error: info };
    }
  }

  async openOrCreate(path: string, create: boolean): Promise<void> {
    const p = await this.run(create ? this.api.createProject(path) : this.api.openProject(path));
    if (p) await this.loaded(p);
  }

  private async loaded(p: ProjectInfo): Promise<void> {
    this.project = p;
    this.editing = null;
    await Promise.all([this.refreshClasses(), this.refreshSummary()]);
    this.recent = (await this.run(this.api.recentProjects())) ?? this.recent;
    this.imagesVersion++;
  }

  openImage(id: number, index: number): void {
    this.editing = id;
    this.editingIndex = index;
    this.navIndex = null;
  }

  /** Where pending next/previous presses are heading, so quick presses add up. */
  private navIndex: number | null = null;

  /** The id of the image `delta` places after the open one (grid order and filter), without opening it. */
  async imageIdAt(delta: number): Promise<number | null> {
    const offset = this.editingIndex + delta;
    if (offset < 0) return null;
    const page = await this.api.listImages({ offset, limit: 1, status: this.filterStatus ?? undefined, tag: this.filterTag.trim() || undefined });
    return page.items[0]?.id ?? null;
  }

  /** The image `delta` places away from the open one in the grid's order and filter. */
  async stepImage(delta: number): Promise<void> {
    const offset = (this.navIndex ?? this.editingIndex) + delta;
    if (offset < 0) return;
    this.navIndex = offset;
    const page = await this.run(
      this.api.listImages({ offset, limit: 1, status: this.filterStatus ?? undefined, tag: this.filterTag.trim() || undefined }),
    );
    if (this.navIndex !== offset) return; // a later press superseded this one
    const row = page?.items[0];
    if (row) this.openImage(row.id, offset);
    else {
      this.navIndex = null;
      this.info(delta > 0 ? 'This is the last image.' : 'This is the first image.');
    }
  }

  closeProject(): void {
    this.project = null;
    this.editing = null;
  }

  async refreshClasses(): Promise<void> {
    const list = await this.run(this.api.listClasses());
    if (!list) return;
    this.classes = [...list].sort((a, b) => a.order - b.order || a.id - b.id);
    if (this.activeClassId === null || !this.classes.some((c) => c.id === this.activeClassId)) {
      this.activeClassId = this.classes[0]?.id ?? null;
    }
  }

  async refreshSummary(): Promise<void> {
    const s = await this.run(this.api.projectSummary());
    if (s) this.summary = s;
  }

  classById(id: number): ClassInfo | undefined {
    return this.classes.find((c) => c.id === id);
  }

  colorOf(classId: number): string {
    return this.classById(classId)?.color ?? '#ff00ff';
  }

  async addClass(name: string): Promise<void> {
    const clean = name.trim();
    if (!clean) return;
    const color = PALETTE[this.classes.length % PALETTE.length];
    const order = this.classes.reduce((m, c) => Math.max(m, c.order + 1), 0);
    const saved = await this.run(this.api.saveClass({ name: clean, color, order }));
    if (saved) await this.refreshClasses();
  }
}
