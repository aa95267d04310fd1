import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CardRegistration, StaffDoc } from '../shared/cards/service';
import { checkLogo, templateFlags, validateCardTemplate } from '../shared/cards/template';
import { COLLECTIONS } from '../shared/store/port';
import { linkUser } from '../shared/users/links';
import { createCard, getCardColors, uploadCardLogo } from '../shared/wechat/card';
import { createWechatHttp } from '../shared/wechat/http';
import { connectAdmin, type AdminContext } from './lib/admin';
import { createOutput, ensureLocalStack, flagValue, parseArgs, positionalAt, runCli, UsageError, type CommandSpec, type Output, type ParsedArgs } from './lib/cli';

/**
 * `npm run cards -- <command>`: the operator's card tools. Each step says what it did or what to fix.
 * Add `--local [URL]` to work on the local stack (npm start) instead of the deployed environment.
 */
export const USAGE = `Usage: npm run cards -- [--local [URL]] [--json] <command>
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

const SPECS: Record<string, CommandSpec> = {
  colors: {},
  'upload-logo': {},
  validate: {},
  create: { values: ['logo'], switches: ['register'] },
  register: { values: ['title'], switches: ['custom-code', 'bind-openid'] },
  unregister: {},
  list: {},
  'staff-add': { values: ['openid', 'unionid', 'name'] },
  'staff-list': {},
  'link-user': { values: ['unionid', 'openid'] },
};

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

async function register(admin: AdminContext, out: Output, cardId: string, flags: { customCode: boolean; bindOpenid: boolean; title: string }): Promise<void> {
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
  out.line(`registered ${cardId} (custom code: ${flags.customCode ? 'yes' : 'no'}, bind_openid: ${flags.bindOpenid ? 'yes' : 'no'}): signCard may now sign it`);
}

/** The CLI; returns the process exit code. With --json each command prints one JSON document. */
export async function main(argv: string[], write: (line: string) => void = console.log): Promise<number> {
  const parsed = parseArgs(argv, SPECS);
  if (parsed.help || parsed.command === undefined) {
    write(USAGE);
    return parsed.help ? 0 : 2;
  }
  const out = createOutput(parsed.json, write);
  await run(parsed, out);
  return 0;
}

async function run(parsed: ParsedArgs, out: Output): Promise<void> {
  const need = (index: number, what: string) => positionalAt(parsed, index, what);
  if (parsed.command === 'validate') {
    const file = need(0, 'a template file');
    const problems = validateCardTemplate(readTemplate(file), { requireLogo: false });
    if (problems.length > 0) throw new Error(`${file} has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    out.result({ file, valid: true }, () => `${file}: valid`);
    return;
  }
  if (parsed.localUrl !== undefined) await ensureLocalStack(parsed.localUrl);
  const admin = connectAdmin(parsed.localUrl ? { localUrl: parsed.localUrl } : {});
  out.line(`using ${admin.describe}, official account ${admin.officialAppId}`);
  switch (parsed.command) {
    case 'colors': {
      const http = createWechatHttp({ baseUrl: admin.apiBaseUrl });
      const colors = await admin.withAccessToken((accessToken) => getCardColors(http, accessToken));
      out.result({ colors }, () => colors.map((color) => `${color.name}  ${color.value}`));
      return;
    }
    case 'upload-logo': {
      const url = await uploadLogo(admin, need(0, 'a JPG or PNG file'));
      out.result({ url }, () => url);
      return;
    }
    case 'create': {
      const file = need(0, 'a template file');
      const template = readTemplate(file);
      const logo = flagValue(parsed, 'logo');
      const offline = validateCardTemplate(template, { requireLogo: false });
      if (offline.length > 0) throw new Error(`${file} has ${offline.length} problem(s):\n  - ${offline.join('\n  - ')}`);
      if (typeof logo === 'string') {
        const url = await uploadLogo(admin, logo);
        const type = String(template.card.card_type).toLowerCase();
        (template.card[type] as { base_info: Record<string, unknown> }).base_info.logo_url = url;
        out.line(`logo uploaded: ${url}`);
      }
      const problems = validateCardTemplate(template);
      if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
      const http = createWechatHttp({ baseUrl: admin.apiBaseUrl });
      const cardId = await admin.withAccessToken((accessToken) => createCard(http, accessToken, template));
      out.line(`card created: ${cardId}`);
      const registered = parsed.flags.get('register') === true;
      if (registered) await register(admin, out, cardId, templateFlags(template));
      else out.line(`next: npm run cards -- register ${cardId}${templateFlags(template).customCode ? ' --custom-code' : ''}${templateFlags(template).bindOpenid ? ' --bind-openid' : ''}`);
      // The shell takes the id from here: CARD=$(npm run -s cards -- --local --json create … | jq -r .cardId), or copy the line.
      out.result({ cardId, registered }, () => `CARD=${cardId}`);
      return;
    }
    case 'register': {
      const title = flagValue(parsed, 'title');
      await register(admin, out, need(0, 'a card id'), {
        customCode: parsed.flags.get('custom-code') === true,
        bindOpenid: parsed.flags.get('bind-openid') === true,
        title: typeof title === 'string' ? title : '',
      });
      return;
    }
    case 'unregister': {
      const cardId = need(0, 'a card id');
      const changed = await admin.store.update(COLLECTIONS.cards, { _id: cardId }, { set: { issuable: false } });
      out.result({ cardId, stopped: changed === 1 }, () => (changed === 1 ? `${cardId} is no longer issuable` : `${cardId} was not registered (or already not issuable)`));
      return;
    }
    case 'list': {
      const cards = await admin.store.find<CardRegistration>(COLLECTIONS.cards, { officialAppId: admin.officialAppId }, { limit: 1000 });
      out.result({ cards }, () => (cards.length === 0
        ? 'no registered cards'
        : cards.map((card) => `${card._id}  ${card.issuable ? 'issuable' : 'stopped '}  custom code: ${card.customCode ? 'yes' : 'no '}  bind_openid: ${card.bindOpenid ? 'yes' : 'no '}  ${card.title}`)));
      return;
    }
    case 'staff-add': {
      const openid = flagValue(parsed, 'openid');
      const unionid = flagValue(parsed, 'unionid');
      if (openid === undefined && unionid === undefined) throw new UsageError('staff-add needs --openid OPENID (mini-program openid) or --unionid UNIONID');
      const key = openid !== undefined ? `openid:${openid}` : `unionid:${unionid!}`;
      const staff: StaffDoc = { _id: key, role: 'redeemer', name: flagValue(parsed, 'name') ?? '', addedAtMs: Date.now() };
      await admin.store.put(COLLECTIONS.cardStaff, { ...staff });
      out.result({ staff: key }, () => `${key} may now redeem cards (consumeCode)`);
      return;
    }
    case 'staff-list': {
      const staff = await admin.store.find<StaffDoc>(COLLECTIONS.cardStaff, { role: 'redeemer' }, { limit: 1000 });
      out.result({ staff }, () => (staff.length === 0 ? 'no staff' : staff.map((member) => `${member._id}  ${member.name}`)));
      return;
    }
    case 'link-user': {
      const unionid = flagValue(parsed, 'unionid');
      const openid = flagValue(parsed, 'openid');
      if (unionid === undefined || openid === undefined) throw new UsageError('link-user needs --unionid UNIONID --openid OPENID');
      await linkUser(admin.store, { officialAppId: admin.officialAppId, unionid, openid, source: 'operator' });
      out.result({ officialAppId: admin.officialAppId, unionid, openid }, () => `linked unionid ${unionid} → official-account openid ${openid}`);
      return;
    }
    default:
      throw new UsageError(`Unknown command ${parsed.command}`);
  }
}

if (require.main === module) runCli(main, USAGE);
