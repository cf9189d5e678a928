// "1 image", "2 images": counts in the messages people read (CLI lines, notices, dialogs).

export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
