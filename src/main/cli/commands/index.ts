// Every CLI command, in the order `peaklabel --help` lists them.
import type { CliCommand } from '../types';
import { command as create } from './create';
import { command as importImages } from './import';
import { command as importCoco } from './import-coco';
import { command as tags } from './tags';
import { command as exportCoco } from './export';
import { command as serve } from './serve';
import { command as bench } from './bench';
import { command as prelabel } from './prelabel';
import { command as info } from './info';
import { command as evalCmd } from './eval';
import { command as mergeCoco } from './merge-coco';
import { command as train } from './train';

export const commands: CliCommand[] = [create, importImages, importCoco, tags, exportCoco, serve, bench, prelabel, mergeCoco, train, info, evalCmd];
