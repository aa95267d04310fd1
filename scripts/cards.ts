import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CardRegistration, StaffDoc } from '../shared/cards/service';
import { checkLogo, templateFlags, validateCardTemplate } from '../shared/cards/template';
import { COLLECTIONS } from '../shared/store/port';
import { linkUser } from '../shared/users/links';
import { createCard, getCardColors, uploadCardLogo } from '../shared/wechat/card';
import { createWechatHttp } from '../shared/wechat/http';
import { connectAdmin, type AdminContext } from './lib/admin';

/**
 * `npm run cards -- <command>`: the operator's card tools. Each step says what it did or what to fix.
 * Add `--local [URL]` to work on the local stack (npm start) instead of the deployed environment.
 */
const USAGE = `Usage: npm run cards -- [--local [URL]] <command>
  colors                                   list the card colours
  upload-logo FILE                         upload a JPG/PNG logo (≤ 1 MB), print its URL
  validate TEMPLATE.json                   check a template against WeChat's rules, upload nothing
  create TEMPLATE.json [--logo FILE] [--register]
                                           validate, upload the logo, create the card, optionally register it
  register CARD_ID [--custom-code] [--bind-openid] [--title TITLE]
                                           allow signCard to sign this card
  unregister CARD_ID                       stop signing this card
  list                                     registered cards
  staff-add (--openid OPENID | --unionid UNIONID) [--name NAME]
                                           allow a mini-program user to redeem (consumeCode)
  staff-list                               authorised staff
  link-user --unionid UNIONID --openid OPENID
                                           record a user's official-account openid (normally the follow/OAuth paths do)`;

interface Parsed {
  localUrl?: string;
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
}

function parse(argv: string[]): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  let localUrl: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--local') {
      const next = argv[i + 1];
      localUrl = next && /^https?:\/\//.test(next) ? argv[(i += 1)] : `http://127.0.0.1:${process.env.PORT ?? 3000}`;
    } else if (arg.startsWith('--')) {
      const next = argv[i + 1];
      const takesValue = ['--logo', '--title', '--openid', '--unionid', '--name'].includes(arg);
      if (takesValue && (next === undefined || next.startsWith('--'))) throw new Error(`${arg} needs a value`);
      flags.set(arg.slice(2), takesValue ? argv[(i += 1)]! : true);
    } else positional.push(arg);
  }
  const [command, ...rest] = positional;
  if (!command) throw new Error(USAGE);
  return { ...(localUrl ? { localUrl } : {}), command, positional: rest, flags };
}

function need(parsed: Parsed, index: number, what: string): string {
  const value = parsed.positional[index];
  if (!value) throw new Error(`${parsed.command} needs ${what}\n\n${USAGE}`);
  return value;
}

function readTemplate(file: string): { card: Record<string, unknown> } {
  let template: unknown;
  try {
    template = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not readable JSON: ${(error as Error).message}`);
  }
  return template as { card: Record<string, unknown> };
}

async function uploadLogo(admin: AdminContext, file: string): Promise<string> {
  const bytes = readFileSync(file);
  const { contentType } = checkLogo(bytes);
  const http = createWechatHttp({ baseUrl: admin.apiBaseUrl });
  return admin.withAccessToken((accessToken) => uploadCardLogo(http, accessToken, { bytes, filename: path.basename(file), contentType }));
}

async function register(admin: AdminContext, cardId: string, flags: { customCode: boolean; bindOpenid: boolean; title: string }): Promise<void> {
  if (!/^p[0-9A-Za-z_-]{27}$/.test(cardId)) throw new Error(`${cardId} is not a card id (p + 27 characters)`);
  const registration: CardRegistration = {
    _id: cardId,
    officialAppId: admin.officialAppId,
    customCode: flags.customCode,
    bindOpenid: flags.bindOpenid,
    issuable: true,
    title: flags.title,
    registeredAtMs: Date.now(),
  };
  await admin.store.put(COLLECTIONS.cards, { ...registration });
  console.log(`registered ${cardId} (custom code: ${flags.customCode ? 'yes' : 'no'}, bind_openid: ${flags.bindOpenid ? 'yes' : 'no'}): signCard may now sign it`);
}

async function run(parsed: Parsed): Promise<void> {
  if (parsed.command === 'validate') {
    const file = need(parsed, 0, 'a template file');
    const problems = validateCardTemplate(readTemplate(file), { requireLogo: false });
    if (problems.length > 0) throw new Error(`${file} has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    console.log(`${file}: valid`);
    return;
  }
  const admin = connectAdmin(parsed.localUrl ? { localUrl: parsed.localUrl } : {});
  console.log(`using ${admin.describe}, official account ${admin.officialAppId}`);
  switch (parsed.command) {
    case 'colors': {
      const http = createWechatHttp({ baseUrl: admin.apiBaseUrl });
      for (const color of await admin.withAccessToken((accessToken) => getCardColors(http, accessToken))) console.log(`${color.name}  ${color.value}`);
      return;
    }
    case 'upload-logo': {
      console.log(await uploadLogo(admin, need(parsed, 0, 'a JPG or PNG file')));
      return;
    }
    case 'create': {
      const file = need(parsed, 0, 'a template file');
      const template = readTemplate(file);
      const logo = parsed.flags.get('logo');
      const offline = validateCardTemplate(template, { requireLogo: false });
      if (offline.length > 0) throw new Error(`${file} has ${offline.length} problem(s):\n  - ${offline.join('\n  - ')}`);
      if (typeof logo === 'string') {
        const url = await uploadLogo(admin, logo);
        const type = String(template.card.card_type).toLowerCase();
        (template.card[type] as { base_info: Record<string, unknown> }).base_info.logo_url = url;
        console.log(`logo uploaded: ${url}`);
      }
      const problems = validateCardTemplate(template);
      if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
      const http = createWechatHttp({ baseUrl: admin.apiBaseUrl });
      const cardId = await admin.withAccessToken((accessToken) => createCard(http, accessToken, template));
      console.log(`card created: ${cardId}`);
      if (parsed.flags.get('register')) await register(admin, cardId, templateFlags(template));
      else console.log(`next: npm run cards -- register ${cardId}${templateFlags(template).customCode ? ' --custom-code' : ''}${templateFlags(template).bindOpenid ? ' --bind-openid' : ''}`);
      return;
    }
    case 'register': {
      const title = parsed.flags.get('title');
      await register(admin, need(parsed, 0, 'a card id'), {
        customCode: parsed.flags.get('custom-code') === true,
        bindOpenid: parsed.flags.get('bind-openid') === true,
        title: typeof title === 'string' ? title : '',
      });
      return;
    }
    case 'unregister': {
      const cardId = need(parsed, 0, 'a card id');
      const changed = await admin.store.update(COLLECTIONS.cards, { _id: cardId }, { set: { issuable: false } });
      console.log(changed === 1 ? `${cardId} is no longer issuable` : `${cardId} was not registered (or already not issuable)`);
      return;
    }
    case 'list': {
      const cards = await admin.store.find<CardRegistration>(COLLECTIONS.cards, { officialAppId: admin.officialAppId }, { limit: 1000 });
      if (cards.length === 0) console.log('no registered cards');
      for (const card of cards) {
        console.log(`${card._id}  ${card.issuable ? 'issuable' : 'stopped '}  custom code: ${card.customCode ? 'yes' : 'no '}  bind_openid: ${card.bindOpenid ? 'yes' : 'no '}  ${card.title}`);
      }
      return;
    }
    case 'staff-add': {
      const openid = parsed.flags.get('openid');
      const unionid = parsed.flags.get('unionid');
      if (typeof openid !== 'string' && typeof unionid !== 'string') throw new Error('staff-add needs --openid OPENID (mini-program openid) or --unionid UNIONID');
      const key = typeof openid === 'string' ? `openid:${openid}` : `unionid:${unionid as string}`;
      const name = parsed.flags.get('name');
      const staff: StaffDoc = { _id: key, role: 'redeemer', name: typeof name === 'string' ? name : '', addedAtMs: Date.now() };
      await admin.store.put(COLLECTIONS.cardStaff, { ...staff });
      console.log(`${key} may now redeem cards (consumeCode)`);
      return;
    }
    case 'staff-list': {
      const staff = await admin.store.find<StaffDoc>(COLLECTIONS.cardStaff, { role: 'redeemer' }, { limit: 1000 });
      if (staff.length === 0) console.log('no staff');
      for (const member of staff) console.log(`${member._id}  ${member.name}`);
      return;
    }
    case 'link-user': {
      const unionid = parsed.flags.get('unionid');
      const openid = parsed.flags.get('openid');
      if (typeof unionid !== 'string' || typeof openid !== 'string') throw new Error('link-user needs --unionid UNIONID --openid OPENID');
      await linkUser(admin.store, { officialAppId: admin.officialAppId, unionid, openid, source: 'operator' });
      console.log(`linked unionid ${unionid} → official-account openid ${openid}`);
      return;
    }
    default:
      throw new Error(`Unknown command ${parsed.command}\n\n${USAGE}`);
  }
}

if (require.main === module) {
  Promise.resolve()
    .then(() => run(parse(process.argv.slice(2))))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    });
}
